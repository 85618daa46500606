"""docs/engine-cli.md, `pgtrickle-engine --help` and the option parser agree, both directions:

- every flag documented in docs/engine-cli.md is listed by --help and accepted by the parser;
- every flag --help lists is documented and accepted by the parser;
- a made-up flag is rejected (so "accepted" means something).

"Accepted" = running the binary with only that flag does not fail with "unknown option"
(it then fails on a missing required flag or on the value, which is fine: no engine starts).
Usage: /usr/bin/python3 test_engine_cli_docs.py --build-dir BUILD
"""
import argparse
import os
import re
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FLAG = re.compile(r"(?<![\w-])--([a-z][a-z0-9-]*[a-z0-9])")
NO_VALUE = {"help"}


def flags_in(text):
    return set(FLAG.findall(text))


def parser_accepts(binary, flag):
    argv = [binary, f"--{flag}"] + ([] if flag in NO_VALUE else ["x"])
    p = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    out = p.stdout + p.stderr
    if flag == "help":
        return p.returncode == 0 and "Usage:" in out, out
    # A known flag never starts the engine here: --primary/--standby/--state-dir are missing.
    return p.returncode == 2 and "unknown option" not in out and "unexpected argument" not in out, out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build-dir", default=os.path.join(REPO, "build"))
    a = ap.parse_args()
    binary = os.path.join(a.build_dir, "engine", "pgtrickle-engine")
    with open(os.path.join(REPO, "docs", "engine-cli.md")) as f:
        documented = flags_in(f.read())
    help_text = subprocess.run([binary, "--help"], capture_output=True, text=True, timeout=30, check=True).stdout
    in_help = flags_in(help_text)
    problems = []
    for fl in sorted(documented - in_help):
        problems.append(f"--{fl} is documented in docs/engine-cli.md but not listed by --help")
    for fl in sorted(in_help - documented):
        problems.append(f"--{fl} is listed by --help but not documented in docs/engine-cli.md")
    for fl in sorted(documented | in_help):
        ok, out = parser_accepts(binary, fl)
        if not ok:
            problems.append(f"--{fl} is rejected by the parser: {out.strip()}")
    ok, out = parser_accepts(binary, "no-such-flag-xyz")
    if ok:
        problems.append(f"the parser accepted a made-up flag (the check is void): {out.strip()}")
    print(f"{len(documented)} documented flags, {len(in_help)} in --help: {sorted(documented | in_help)}")
    if problems:
        print("\n".join("FAIL: " + p for p in problems))
        sys.exit(1)
    print("PASS engine_cli_docs")


if __name__ == "__main__":
    main()
