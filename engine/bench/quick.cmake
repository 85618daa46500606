# engine_apply_bench_quick: every shape and workload at a tiny size, batches small enough that
# rows change several times per batch and across batches; --check compares with a recompute.
foreach(args
    "--tables;five;--mode;update;--rows;2000;--txns;60;--changes;40;--batch-txns;7;--groups;50;--check"
    "--tables;five;--mode;mixed;--rows;500;--txns;80;--changes;30;--batch-txns;5;--groups;20;--check"
    "--tables;one;--mode;mixed;--rows;300;--txns;40;--changes;50;--batch-txns;40;--groups;5;--check"
    "--tables;join;--mode;mixed;--rows;1000;--txns;60;--changes;30;--batch-txns;9;--groups;40;--check")
  execute_process(COMMAND ${BENCH} ${args} RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "apply_bench ${args} failed (${rc})")
  endif()
endforeach()
