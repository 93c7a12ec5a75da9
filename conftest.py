# Registers the harness's pytest plugin: every cases/**/*.c becomes one test item per cell.
pytest_plugins = ["harness.pytest_plugin"]
