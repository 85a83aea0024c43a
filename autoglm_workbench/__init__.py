__version__ = "0.1.0"

import sys as _sys

# altair checks chart specs with jsonschema, which imports rfc3987_syntax when it is installed (JupyterLab's
# jupyter-events requires it); that import compiles 39 Lark grammars, 1.4 s in every process that draws a chart, for
# IRI formats no chart spec uses. Where nothing has imported jsonschema yet it is left out, and jsonschema skips those
# two formats, as it does wherever the package is not installed.
if "jsonschema" not in _sys.modules: _sys.modules.setdefault("rfc3987_syntax", None)
