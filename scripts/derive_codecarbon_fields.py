#!/usr/bin/env python3
"""Writes CodeCarbon's own list of `emissions.csv` columns: the fields of its `EmissionsData`
dataclass, in order, read from the CodeCarbon 3.3.2 wheel's source with `ast` (CodeCarbon need
not be installed). The store's test compares greenai's CSV header with this list, so the expected
columns come from CodeCarbon, not from greenai's own constant.

    pip download --no-deps codecarbon==3.3.2 -d /tmp/cc
    python3 scripts/derive_codecarbon_fields.py /tmp/cc/codecarbon-3.3.2-py3-none-any.whl \
        > crates/greenai-store/tests/data/codecarbon-3.3.2-emissions-fields.txt
"""
import ast
import sys
import zipfile

with zipfile.ZipFile(sys.argv[1]) as z:
    source = z.read("codecarbon/output_methods/emissions_data.py").decode()
tree = ast.parse(source)
cls = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "EmissionsData")
print("# CodeCarbon 3.3.2, codecarbon/output_methods/emissions_data.py, EmissionsData's fields in order")
for node in cls.body:
    if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
        print(node.target.id)
