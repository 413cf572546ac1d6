"""What the benches print about the machine they ran on."""
import platform
from pathlib import Path

VECTOR_UNITS = {"amx_tile": "AMX", "avx512f": "AVX-512", "avx2": "AVX2"}  # /proc/cpuinfo flag -> name, widest first


def cpu_name() -> str:
    """The CPU's model name, with its family, model and widest vector unit where Linux says (/proc/cpuinfo): hosts
    sold under one name ("AMD EPYC") differ threefold in speed, so a figure names the one it ran on. Else what the
    platform module knows."""
    try:
        first = Path("/proc/cpuinfo").read_text().split("\n\n")[0]  # the first processor is enough
    except OSError:
        return platform.processor() or platform.machine()
    fields = {k.strip(): v.strip() for k, _, v in (line.partition(":") for line in first.splitlines())}
    if "model name" not in fields:
        return platform.processor() or platform.machine()
    flags = fields.get("flags", "").split()
    details = [f"family {fields['cpu family']} model {fields['model']}"] if "cpu family" in fields else []
    details += [name for flag, name in VECTOR_UNITS.items() if flag in flags][:1]
    return f"{fields['model name']} ({', '.join(details)})" if details else fields["model name"]
