"""A catalogue of malformed inputs: tables, CSV files and score definitions.

:mod:`bad_inputs.world` builds a small valid world; :mod:`bad_inputs.cases`
lists each bad input as a mutation of it with the exact outcome expected.
"""
