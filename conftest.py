# Thin on purpose: everything lives in the stackcheck plugin.
pytest_plugins = ["stackcheck.plugin"]
