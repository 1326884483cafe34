"""Test support: input generators and checkers used only by tests and benchmarks.

Not installed (pyproject's package discovery takes only the product packages), so the product
never ships them: synthetic processor output for the sink (:mod:`tests.support.synthetic`),
the leak scanner for published files (:mod:`tests.support.leakscan`), and the adversarial
input generator (:mod:`tests.support.adversarial`, built from :mod:`tests.support.fuzzbase`
and :mod:`tests.support.mutations`). ``tests/unit/test_test_only_code.py`` keeps it that way.
"""
