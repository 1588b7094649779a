"""Read memcheck logs and give run_valgrind.sh its verdict.

A record is an error (invalid read/write/free, use of an uninitialised
value, bad syscall argument) or a definitely-lost block that the
suppressions in tools/valgrind.supp left standing.  A record is tapegrad's
when a frame of its stack is in the extension: the .so's name, or one of
src/'s files or function prefixes (debug builds name files, not objects).
Prints a summary and every tapegrad record; exits 1 if there is one.

usage: python tools/valgrind_report.py LOG [LOG ...]
"""
import os
import re
import sys

SRC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src")
OUR_FILES = sorted(f for f in os.listdir(SRC) if f.endswith(".c"))
OURS = re.compile(
    r"_tapegrad\.|[( ]tg_[a-z_0-9]+ |_(forward|vjp) |\((%s):\d+\)"
    % "|".join(re.escape(f) for f in OUR_FILES))
HEADER = re.compile(
    r"^==\d+== (Invalid (read|write|free)|Conditional jump|Use of uninit"
    r"|Syscall param|Mismatched free|Source and destination overlap"
    r"|[\d,]+ (\([\d,]+ direct, [\d,]+ indirect\) )?bytes in [\d,]+ blocks"
    r" are definitely lost)")


def records(text):
    """Yield (kind, full text) of each error or definite-leak record."""
    current = None
    for line in text.splitlines():
        if HEADER.match(line):
            if current:
                yield current
            current = [line]
        elif current is not None:
            if re.match(r"^==\d+== ?$", line):
                yield current
                current = None
            else:
                current.append(line)
    if current:
        yield current


def main(paths):
    total = 0
    ours = []
    for path in paths:
        with open(path, errors="replace") as f:
            text = f.read()
        for rec in records(text):
            total += 1
            body = "\n".join(rec)
            if OURS.search(body):
                ours.append((path, body))
    print("valgrind: %d logs, %d unsuppressed records, %d with a tapegrad "
          "frame" % (len(paths), total, len(ours)))
    for path, body in ours:
        print("--- %s\n%s" % (path, body))
    return 1 if ours else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
