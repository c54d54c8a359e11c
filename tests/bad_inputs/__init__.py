"""A catalogue of malformed inputs: tables, CSV files and score definitions.

:mod:`bad_inputs.world` builds a small valid world; :mod:`bad_inputs.cases`
holds the case type and the builders of mutations of it;
:mod:`bad_inputs.structure_cases` and :mod:`bad_inputs.row_cases` list the bad
sources, each with the exact outcome expected, and
:mod:`bad_inputs.definition_cases` the bad score definitions.
"""
