"""Bakes the git commit into the wheel (verifier/_commit.txt); everything else is pyproject.toml.

``verifier --version`` reads it on an installed kit, where there is no git and no checkout
(verifier/device/buildinfo.py). A build from a tree without git writes "unknown".
"""

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py


class BuildWithCommit(build_py):
    def run(self) -> None:
        super().run()
        import importlib.util

        spec = importlib.util.spec_from_file_location(
            "_buildinfo", Path(__file__).parent / "verifier" / "device" / "buildinfo.py"
        )
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        commit = module.git_commit(Path(__file__).parent) or module.UNKNOWN
        target = Path(self.build_lib) / "verifier" / module.COMMIT_FILE
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(commit + "\n", encoding="ascii")


setup(cmdclass={"build_py": BuildWithCommit})
