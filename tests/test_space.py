"""The Hugging Face Space configuration: the README's front matter and requirements.txt must agree, or the Space's
build fails (two gradio pins give pip's ResolutionImpossible) or ZeroGPU refuses the torch it finds."""
import importlib.metadata
import re
import shutil
import subprocess

import pytest
import yaml
from packaging.requirements import Requirement

from conftest import ROOT

ZERO_GPU_TORCH = {"2.8.0": "0.23.0", "2.9.1": "0.24.1", "2.10.0": "0.25.0", "2.11.0": "0.26.0"}  # torch: torchvision
ZERO_GPU_PYTHON = ("3.12", "3.10")  # ZeroGPU runs Python 3.12.12 or 3.10.13


def front_matter() -> dict:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    match = re.match(r"---\n(.*?)\n---\n", text, re.S)
    assert match, "README.md does not start with a --- YAML block"
    return yaml.safe_load(match.group(1))


def pins(path="requirements.txt") -> dict[str, str]:
    """package name -> exact version, for each `name==version` line."""
    found = {}
    for line in (ROOT / path).read_text().splitlines():
        line = line.split("#")[0].strip()
        if line and not line.startswith("-"):
            req = Requirement(line)
            specs = list(req.specifier)
            assert len(specs) == 1 and specs[0].operator == "==", f"{path}: {line!r} is not pinned with =="
            found[req.name.lower()] = specs[0].version
    return found


def test_front_matter_is_a_gradio_space():
    config = front_matter()
    assert config["sdk"] == "gradio"
    assert (ROOT / config["app_file"]).is_file()
    assert len(config["short_description"]) <= 60  # the Hub's limit for the card
    assert config.get("suggested_hardware", "cpu-basic") in ("cpu-basic", "cpu-upgrade")


def test_gradio_is_pinned_once_the_same_in_both_places():
    # The Space installs gradio==sdk_version, then requirements.txt: another gradio pin cannot be resolved.
    config = front_matter()
    assert isinstance(config["sdk_version"], str), "sdk_version must be a string like 6.31.0"
    assert pins()["gradio"] == config["sdk_version"]


def test_python_version_is_one_zero_gpu_runs():
    version = front_matter()["python_version"]
    assert isinstance(version, str), "quote python_version: YAML reads 3.10 as the number 3.1"
    assert version in ZERO_GPU_PYTHON or version.rsplit(".", 1)[0] in ZERO_GPU_PYTHON, version


def test_torch_is_a_zero_gpu_release_with_its_torchvision():
    requirements = pins()
    assert requirements["torch"] in ZERO_GPU_TORCH, f"torch {requirements['torch']} is not in ZeroGPU's list"
    assert requirements["torchvision"] == ZERO_GPU_TORCH[requirements["torch"]]
    assert "spaces" in requirements  # @spaces.GPU


def test_installed_torchvision_was_built_for_the_pinned_torch():
    """An oracle for the table above: a torchvision wheel names the one torch it was made for."""
    requirements = pins()
    installed = importlib.metadata.version("torchvision").split("+")[0]
    if installed != requirements["torchvision"]:
        pytest.skip(f"torchvision {installed} is installed, not the pinned {requirements['torchvision']}")
    wanted = [Requirement(r) for r in importlib.metadata.requires("torchvision") or []]
    torch = next(r for r in wanted if r.name == "torch")
    assert requirements["torch"] in torch.specifier, f"torchvision {installed} requires {torch}"


def test_dev_requirements_add_to_the_app_ones():
    lines = (ROOT / "requirements-dev.txt").read_text().splitlines()
    assert "-r requirements.txt" in lines
    assert not set(pins("requirements-dev.txt")) & set(pins()), "a package pinned in both files"


@pytest.mark.skipif(not shutil.which("git") or not (ROOT / ".git").exists(), reason="not a git checkout")
def test_binary_files_in_git_are_marked_for_lfs():
    # The Hub refuses binary files pushed with plain git outside LFS/Xet; .gitattributes marks them.
    files = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout.split(b"\0")
    binary = [f.decode() for f in files if f and (ROOT / f.decode()).is_file()
              and b"\0" in (ROOT / f.decode()).read_bytes()[:8000]]
    assert binary, "no binary file found: the shipped checkpoint at least should be one"
    attrs = subprocess.run(["git", "check-attr", "filter", "--", *binary], cwd=ROOT, capture_output=True,
                           text=True, check=True).stdout.splitlines()
    unmarked = [line.split(":")[0] for line in attrs if not line.endswith(": filter: lfs")]
    assert not unmarked, f"binary files not marked for LFS in .gitattributes: {unmarked}"
