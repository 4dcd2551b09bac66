import subprocess
import sys

from tiny_run import ROOT

CODE = r"""
import importlib, pkgutil, sys
import tuning
names = ['tuning'] + [m.name for m in pkgutil.walk_packages(tuning.__path__, 'tuning.')
                      if m.name != 'tuning.__main__']
for name in names:
    importlib.import_module(name)
bad = sorted(m for m in sys.modules if m == 'django' or m.startswith('django.') or m == 'celery')
assert not bad, bad
print(len(names))
"""


def test_every_tuning_module_imports_without_django():
    out = subprocess.run([sys.executable, "-c", CODE], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert int(out.stdout.strip().splitlines()[-1]) >= 15
