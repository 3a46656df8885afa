import subprocess
import sys


def test_import_emoscope_loads_no_training_or_server_stack():
    code = ("import sys, emoscope; emoscope.Analyzer; import emoscope.cli; "
            "heavy = [m for m in ('torch', 'fastapi', 'dask', 'matplotlib', 'sklearn') if m in sys.modules]; "
            "print(','.join(heavy))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == ""


def test_analyzing_an_image_never_imports_torch(tmp_path):
    from conftest import EXAMPLE

    code = (f"import sys, emoscope; emoscope.Analyzer('haar').analyze({str(EXAMPLE)!r}); "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "False"
