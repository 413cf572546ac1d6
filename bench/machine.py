"""What the benches print about the machine they ran on."""
import platform
from pathlib import Path


def cpu_name() -> str:
    """The CPU's model name, with its family, model and widest vector unit where Linux says (/proc/cpuinfo): hosts
    sold under one name ("AMD EPYC") differ twofold in speed, so a figure names the one it ran on. Else what the
    platform module knows."""
    try:
        fields = {}
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if not line.strip():
                break  # the first processor is enough
            key, _, value = line.partition(":")
            fields[key.strip()] = value.strip()
        flags = fields.get("flags", "").split()
        vector = next((v for v in ("amx_tile", "avx512f", "avx2") if v in flags), None)
        details = ", ".join(x for x in (f"family {fields['cpu family']} model {fields['model']}"
                                        if "cpu family" in fields else None,
                                        {"amx_tile": "AMX", "avx512f": "AVX-512", "avx2": "AVX2"}.get(vector)) if x)
        if "model name" in fields:
            return f"{fields['model name']} ({details})" if details else fields["model name"]
    except OSError:
        pass
    return platform.processor() or platform.machine()
