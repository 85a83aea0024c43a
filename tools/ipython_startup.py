# Installed by `make install` into the environment's IPython startup folder: every kernel started from this
# environment draws altair charts without a CDN (live in JupyterLab, SVG when AUTOGLM_STATIC_CHARTS=1).
import os

try:
    from autoglm_workbench.panels import offline_charts
    offline_charts()
except ImportError:   # the panel extras are not installed: charts are not drawn anyway
    pass

if os.environ.get("AUTOGLM_STATIC_CHARTS") == "1":
    # A static page (the docs build): a progress-bar widget would show as its text "0%|"; plain bars go to stderr,
    # which the build leaves out.
    import tqdm.auto
    import tqdm.std
    tqdm.auto.tqdm = tqdm.std.tqdm
