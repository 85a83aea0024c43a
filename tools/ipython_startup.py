# Installed by `make install` into the environment's IPython startup folder: every kernel started from this
# environment draws altair charts without a CDN (live in JupyterLab, SVG when AUTOGLM_STATIC_CHARTS=1).
try:
    from autoglm_workbench.panels import offline_charts
    offline_charts()
except ImportError:   # the panel extras are not installed: charts are not drawn anyway
    pass
