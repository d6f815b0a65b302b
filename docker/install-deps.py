"""Install the project's runtime dependencies (read from pyproject.toml) and nothing else.

The Docker image runs this in its own layer, before the source is copied, so
that editing the code does not reinstall numpy and friends.
"""

import subprocess
import sys
import tomllib

with open("pyproject.toml", "rb") as f:
    dependencies = tomllib.load(f)["project"]["dependencies"]
subprocess.run([sys.executable, "-m", "pip", "install", *dependencies], check=True)
