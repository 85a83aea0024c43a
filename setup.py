"""Packaging driven by `settings.ini` (nbdev 2).

nbdev's `nbdev_export` writes a `pyproject.toml` whose metadata fields are all marked dynamic,
so every one of them must be supplied here or `pip install -e .` fails.
"""
from configparser import ConfigParser
from pathlib import Path

import setuptools

cfg = ConfigParser(delimiters=["="])
cfg.read("settings.ini", encoding="utf-8")
cfg = cfg["DEFAULT"]

statuses = ["1 - Planning", "2 - Pre-Alpha", "3 - Alpha", "4 - Beta", "5 - Production/Stable",
            "6 - Mature", "7 - Inactive"]
py_versions = ["3.10", "3.11", "3.12", "3.13"]
min_python = cfg["min_python"]

setuptools.setup(
    name=cfg["lib_name"],
    version=cfg["version"],
    description=cfg["description"],
    keywords=cfg["keywords"].split(),
    license="Apache-2.0",
    author=cfg["author"],
    author_email=cfg["author_email"],
    url=cfg["git_url"],
    classifiers=[
        f"Development Status :: {statuses[int(cfg['status'])]}",
        f"Intended Audience :: {cfg['audience'].title()}",
        f"Natural Language :: {cfg['language'].title()}",
        "Topic :: Scientific/Engineering :: Artificial Intelligence",
    ] + [f"Programming Language :: Python :: {v}" for v in py_versions[py_versions.index(min_python):]],
    packages=setuptools.find_packages(include=[cfg["lib_path"], cfg["lib_path"] + ".*"]),
    include_package_data=True,
    install_requires=cfg["requirements"].split(),
    extras_require={"panels": cfg["panel_requirements"].split(),
                    "lab": cfg["lab_requirements"].split() + cfg["panel_requirements"].split(),
                    "docs": cfg["docs_requirements"].split() + cfg["panel_requirements"].split(),
                    # unverified here: TensorRT's packages fetch vendor libraries at install time
                    "tensorrt": cfg["tensorrt_requirements"].split(),
                    # llama.cpp for bench/lm_gguf.py only: compiled from its source package (tens of minutes on 2 cores)
                    "llama": cfg["llama_requirements"].split(),
                    "dev": cfg["dev_requirements"].split() + cfg["panel_requirements"].split()
                           + cfg["lab_requirements"].split() + cfg["docs_requirements"].split()},
    python_requires=">=" + min_python,
    long_description=Path("README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    zip_safe=False,
    entry_points={
        "console_scripts": cfg["console_scripts"].split(),
        "nbdev": [f"{cfg['lib_path']}={cfg['lib_path']}._modidx:d"],
    },
    project_urls={"Documentation": f"{cfg['doc_host']}{cfg['doc_baseurl']}", "Source": cfg["git_url"]},
)
