#!/usr/bin/env python3
"""Generates oracle.tsv: randomized inputs evaluated by a real PostgreSQL 15 server.

Usage: python3 gen_oracle.py "psql -h 127.0.0.1 -p PORT -U postgres" > oracle.tsv
Each output line: kind <TAB> a <TAB> b <TAB> expected ("ERROR: <message>" for errors).
The session runs with DateStyle=ISO, TimeZone=UTC, extra_float_digits=1 (the defaults).
"""
import random
import subprocess
import sys

rnd = random.Random(20240615)
cases = []  # (kind, a, b, sql expression producing text from %a/%b literals)


def rand_numeric():
    r = rnd.random()
    if r < 0.03:
        return rnd.choice(["NaN", "Infinity", "-Infinity"])
    if r < 0.06:
        return rnd.choice(["0", "0.00", "-0.0"])
    nd = rnd.choice([1, 1, 2, 3, 5, 8, 12, 20, 30])
    digits = "".join(rnd.choice("0123456789") for _ in range(nd)).lstrip("0") or "0"
    scale = rnd.choice([0, 0, 1, 2, 3, 4, 5, 8, 12, 17])
    if scale:
        digits = digits.rjust(scale + 1, "0")
        digits = digits[:-scale] + "." + digits[-scale:]
    return ("-" if rnd.random() < 0.4 else "") + digits


def rand_numeric_text():
    base = rand_numeric()
    if base[0] in "NI-" and not base[-1].isdigit():
        return base
    if rnd.random() < 0.4:
        return base + "e" + str(rnd.randint(-12, 12))
    return base


def rand_int(bits):
    lim = 1 << (bits - 1)
    r = rnd.random()
    if r < 0.3:
        return rnd.choice([-lim, -lim + 1, lim - 1, lim - 2, -1, 0, 1, 2, -2])
    if r < 0.6:
        return rnd.randint(-1000, 1000)
    return rnd.randint(-lim, lim - 1)


def rand_double_text():
    r = rnd.random()
    if r < 0.05:
        return rnd.choice(["NaN", "Infinity", "-Infinity", "0", "-0"])
    mant = rnd.choice(["1", "1.5", "3.14159", "123456789", "0.1", "9.999999", "2.718281828459045",
                       str(rnd.randint(1, 10**rnd.randint(1, 17)))])
    return ("-" if rnd.random() < 0.3 else "") + mant + "e" + str(rnd.randint(-30, 30))


for _ in range(1500):
    a, b = rand_numeric(), rand_numeric()
    for op, sym in [("num_add", "+"), ("num_sub", "-"), ("num_mul", "*"), ("num_div", "/"),
                    ("num_mod", "%")]:
        if op in ("num_div", "num_mod") and rnd.random() < 0.05:
            b = "0"
        cases.append((op, a, b, f"(%a::numeric {sym} %b::numeric)::text"))
    cases.append(("num_cmp", a, b,
                  "((%a::numeric > %b::numeric)::int - (%a::numeric < %b::numeric)::int)::text"))
# avg-like divisions: sum / count
for _ in range(300):
    s, c = rand_numeric(), str(rnd.randint(1, 1000))
    cases.append(("num_div", s, c, "(%a::numeric / %b::numeric)::text"))
for _ in range(800):
    t = rand_numeric_text()
    cases.append(("num_in", t, "", "%a::numeric::text"))
    for ty in ("int2", "int4", "int8"):
        cases.append(("num_to_" + ty, t, "", f"%a::numeric::{ty}::text"))
    cases.append(("num_to_float8", t, "", "%a::numeric::float8::text"))
for bits, ty in [(16, "int2"), (32, "int4"), (64, "int8")]:
    for _ in range(600):
        a, b = str(rand_int(bits)), str(rand_int(bits))
        for op, sym in [("add", "+"), ("sub", "-"), ("mul", "*"), ("div", "/"), ("mod", "%")]:
            cases.append((f"{ty}_{op}", a, b, f"(%a::{ty} {sym} %b::{ty})::text"))
for _ in range(1500):
    t = rand_double_text()
    cases.append(("float8_out", t, "", "%a::float8::text"))
    cases.append(("float4_out", t, "", "%a::float4::text"))
    cases.append(("float8_to_numeric", t, "", "%a::float8::numeric::text"))
def rand_half_double():
    r = rnd.random()
    if r < 0.5:
        return str(rnd.randint(-5000, 5000)) + rnd.choice([".5", ".49", ".51", "", ".0"])
    return rnd.choice(["2147483647.5", "-2147483648.5", "2147483647.4", "-2147483648.4",
                       "9223372036854775807", "-9223372036854775808", "1e19", "-1e19",
                       "9.2233720368547748e18", "NaN", "Infinity", "32767.5", "-32768.5"])


for _ in range(400):
    t = rand_half_double()
    for ty in ("int2", "int4", "int8"):
        cases.append((f"float8_to_{ty}", t, "", f"%a::float8::{ty}::text"))
    t = rand_numeric_text()
    cases.append(("num_to_float4", t, "", "%a::numeric::float4::text"))


def rand_ts_text(with_zone, with_time=True):
    y = rnd.choice([rnd.randint(1, 9999), rnd.randint(1, 3000), rnd.randint(1, 4713)])
    m, d = rnd.randint(1, 12), rnd.randint(1, 31 if rnd.random() < 0.1 else 28)
    t = f"{y:04d}-{m:02d}-{d:02d}"
    if with_time:
        t += f" {rnd.randint(0, 23):02d}:{rnd.randint(0, 59):02d}:{rnd.randint(0, 59):02d}"
        if rnd.random() < 0.6:
            t += "." + "".join(rnd.choice("0123456789") for _ in range(rnd.randint(1, 6)))
    if with_zone:
        t += rnd.choice(["+00", "-07", "+05:30", "+14", "-12:45", "+0100", "Z", ""])
    if rnd.random() < 0.1:
        t += " BC"
    return t


for _ in range(400):
    cases.append(("date_in", rand_ts_text(False, False), "", "%a::date::text"))
    cases.append(("ts_in", rand_ts_text(False), "", "%a::timestamp::text"))
    cases.append(("tstz_in", rand_ts_text(True), "", "%a::timestamptz::text"))
    tm = f"{rnd.randint(0, 24):02d}:{rnd.randint(0, 59):02d}:{rnd.randint(0, 60):02d}"
    if rnd.random() < 0.5:
        tm += "." + str(rnd.randint(0, 999999))
    cases.append(("time_in", tm, "", "%a::time::text"))
    iv = rnd.choice([" 12 ", "+7", "-0", "12a", "", "2147483648", "-2147483648", "1e3", " - 5",
                     str(rand_int(32)), str(rand_int(64)), "0x10", "007"])
    cases.append(("int4_in", iv, "", "%a::int4::text"))

for _ in range(1000):
    d = rnd.randint(-2451545, 2147483494 - 2451545 - 1)
    if rnd.random() < 0.5:
        d = rnd.randint(-800000, 800000)
    cases.append(("date_out", str(d), "", "('2000-01-01'::date + %a::int4)::text"))
    us = rnd.randint(-211813488000000000, 9223371331200000000 - 1)
    if rnd.random() < 0.5:
        us = rnd.randint(-10**17, 10**17) // rnd.choice([1, 1000, 1000000])
    cases.append(("timestamp_out", str(us), "",
                  "('2000-01-01 00:00:00'::timestamp + make_interval(secs => 0) + "
                  "(%a::int8 / 86400000000) * interval '1 day' + "
                  "(%a::int8 % 86400000000) * interval '1 microsecond')::text"))
    cases.append(("timestamptz_out", str(us), "",
                  "('2000-01-01 00:00:00+00'::timestamptz + "
                  "(%a::int8 / 86400000000) * interval '1 day' + "
                  "(%a::int8 % 86400000000) * interval '1 microsecond')::text"))


def lit(s):
    return "'" + s.replace("'", "''") + "'"


sql = ["SET DateStyle = ISO; SET TimeZone = 'UTC'; SET extra_float_digits = 1;",
       """CREATE TEMP TABLE o(n int, kind text, a text, b text, r text);
CREATE FUNCTION pg_temp.t(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE r text;
BEGIN EXECUTE q INTO r; RETURN coalesce(r, 'NULL');
EXCEPTION WHEN others THEN RETURN 'ERROR: ' || sqlerrm; END $$;"""]
for n, (kind, a, b, expr) in enumerate(cases):
    q = "SELECT " + expr.replace("%a", lit(a)).replace("%b", lit(b))
    sql.append(f"INSERT INTO o VALUES ({n}, {lit(kind)}, {lit(a)}, {lit(b)}, pg_temp.t({lit(q)}));")
sql.append("\\copy (SELECT kind, a, b, r FROM o ORDER BY n) TO STDOUT")
out = subprocess.run(sys.argv[1].split() + ["-q", "-X", "-v", "ON_ERROR_STOP=1"],
                     input="\n".join(sql), capture_output=True, text=True, check=True)
sys.stdout.write(out.stdout)
