"""Packaging hook: the chat UI profiles (`selectors.yaml`, kept at the top of the repository) go into
the package as `bridge/chat/selectors.yaml`, so a wheel or a regular install has them. Everything
else is configured in pyproject.toml."""

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

PROFILES = "selectors.yaml"
PACKAGED = Path("bridge") / "chat" / PROFILES


class BuildWithProfiles(build_py):
    """`build_py` plus a copy of the top-level profiles file into the built package."""

    def run(self) -> None:
        super().run()
        if not self.editable_mode:  # an editable install reads the top-level file itself
            self.copy_file(PROFILES, str(Path(self.build_lib) / PACKAGED))

    def get_outputs(self, include_bytecode: bool = True) -> list[str]:
        return [*super().get_outputs(include_bytecode), str(Path(self.build_lib) / PACKAGED)]


setup(cmdclass={"build_py": BuildWithProfiles})
