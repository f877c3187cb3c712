#!/usr/bin/env python3
"""Run the unittest suite under tests/ and write JUnit XML (reports/e2e.xml).

usage: run-tests.py [REPORT]
Exit status 1 when a test fails or errors, so baton sees the failure; the JUnit
file carries the per-test detail (baton reads it through `junit:`).
"""
import os
import sys
import time
import unittest
from xml.sax.saxutils import escape, quoteattr

sys.dont_write_bytecode = True
report = sys.argv[1] if len(sys.argv) > 1 else "reports/e2e.xml"


class Recorder(unittest.TextTestResult):
    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.cases = []

    def startTest(self, test):
        self._t0 = time.perf_counter()
        super().startTest(test)

    def _add(self, test, kind, detail=""):
        self.cases.append((test, kind, detail, time.perf_counter() - self._t0))

    def addSuccess(self, test):
        super().addSuccess(test)
        self._add(test, "ok")

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._add(test, "failure", self._exc_info_to_string(err, test))

    def addError(self, test, err):
        super().addError(test, err)
        self._add(test, "error", self._exc_info_to_string(err, test))

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        self._add(test, "skipped", reason)


suite = unittest.defaultTestLoader.discover("tests")
t0 = time.perf_counter()
result = unittest.TextTestRunner(resultclass=Recorder, verbosity=2, stream=sys.stdout).run(suite)
elapsed = time.perf_counter() - t0

os.makedirs(os.path.dirname(report) or ".", exist_ok=True)
fails = sum(1 for c in result.cases if c[1] == "failure")
errors = sum(1 for c in result.cases if c[1] == "error")
skipped = sum(1 for c in result.cases if c[1] == "skipped")
with open(report, "w") as f:
    f.write('<?xml version="1.0" encoding="UTF-8"?>\n')
    f.write(f'<testsuite name="cart-pricing-e2e" tests="{len(result.cases)}" failures="{fails}" '
            f'errors="{errors}" skipped="{skipped}" time="{elapsed:.3f}">\n')
    for test, kind, detail, dt in result.cases:
        cls, name = test.id().rsplit(".", 1)
        f.write(f'  <testcase classname={quoteattr(cls)} name={quoteattr(name)} time="{dt:.4f}"')
        if kind == "ok":
            f.write("/>\n")
        elif kind == "skipped":
            f.write(f"><skipped message={quoteattr(detail)}/></testcase>\n")
        else:
            f.write(f"><{kind} message={quoteattr(detail.strip().splitlines()[-1])}>{escape(detail)}</{kind}></testcase>\n")
    f.write("</testsuite>\n")
print(f"wrote {report}: {len(result.cases)} tests, {fails} failures, {errors} errors")
sys.exit(0 if result.wasSuccessful() else 1)
