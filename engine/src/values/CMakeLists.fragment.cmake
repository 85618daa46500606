# The engine's value layer (engine/src/values) and its tests. Include from engine/CMakeLists.txt:
#   include(${CMAKE_CURRENT_SOURCE_DIR}/src/values/CMakeLists.fragment.cmake)
# Needs (from the top-level CMakeLists): find_package(GTest, nlohmann_json, Boost), XXHASH_LIB,
# and a walreader library target implementing pgt::TypeIdFromOid/OidFromTypeId/TypeName and
# Status::ToString; its name is PGT_WALREADER_TARGET (default "walreader").
if(NOT DEFINED PGT_WALREADER_TARGET)
  set(PGT_WALREADER_TARGET walreader)
endif()
set(PGT_VALUES_DIR ${CMAKE_CURRENT_LIST_DIR})
get_filename_component(PGT_VALUES_ENGINE_DIR ${PGT_VALUES_DIR}/../.. ABSOLUTE)

add_library(engine_values STATIC
  ${PGT_VALUES_DIR}/arith.cc
  ${PGT_VALUES_DIR}/codec.cc
  ${PGT_VALUES_DIR}/compare.cc
  ${PGT_VALUES_DIR}/datetime.cc
  ${PGT_VALUES_DIR}/date_funcs.cc
  ${PGT_VALUES_DIR}/decimal.cc
  ${PGT_VALUES_DIR}/expr.cc
  ${PGT_VALUES_DIR}/row_id.cc
  ${PGT_VALUES_DIR}/text_funcs.cc
  ${PGT_VALUES_DIR}/text_io.cc
)
# Headers are included as "values/decimal.h".
target_include_directories(engine_values PUBLIC
  ${PGT_VALUES_ENGINE_DIR}/src
  ${PGT_VALUES_ENGINE_DIR}/../walreader/include)
target_link_libraries(engine_values PUBLIC
  nlohmann_json::nlohmann_json Boost::headers ${XXHASH_LIB} ${PGT_WALREADER_TARGET})

add_executable(engine_values_tests
  ${PGT_VALUES_ENGINE_DIR}/tests/values/decimal_test.cc
  ${PGT_VALUES_ENGINE_DIR}/tests/values/text_io_test.cc
  ${PGT_VALUES_ENGINE_DIR}/tests/values/expr_test.cc
  ${PGT_VALUES_ENGINE_DIR}/tests/values/text_funcs_test.cc
  ${PGT_VALUES_ENGINE_DIR}/tests/values/date_funcs_test.cc
  ${PGT_VALUES_ENGINE_DIR}/tests/values/codec_test.cc
  ${PGT_VALUES_ENGINE_DIR}/tests/values/oracle_test.cc
)
target_compile_definitions(engine_values_tests PRIVATE
  PGT_VALUES_TEST_DATA="${PGT_VALUES_ENGINE_DIR}/tests/values/data")
target_link_libraries(engine_values_tests PRIVATE engine_values GTest::gtest GTest::gtest_main)
include(GoogleTest)
gtest_discover_tests(engine_values_tests DISCOVERY_MODE PRE_TEST)
