"""Entry-point group names and which distribution provides the toolkit's own plugins.

One module holds every constant so that packages, docs and error messages agree.
"""

from __future__ import annotations

AUDIO_ENCODERS = "pgs.audio_encoders"
FUSION = "pgs.fusion"
DENSITY = "pgs.density"
EVALUATORS = "pgs.evaluators"
RASTERIZERS = "pgs.rasterizers"
COMMANDS = "pgs.commands"

#: Groups whose entry points load a `ComponentSpec`.
COMPONENT_GROUPS: tuple[str, ...] = (AUDIO_ENCODERS, FUSION, DENSITY, EVALUATORS, RASTERIZERS)
#: Every group, in display order.
ALL_GROUPS: tuple[str, ...] = (*COMPONENT_GROUPS, COMMANDS)

#: Human-readable kind of component per group, used in messages ("unknown fusion module 'x'").
GROUP_KINDS: dict[str, str] = {
    AUDIO_ENCODERS: "audio encoder",
    FUSION: "fusion module",
    DENSITY: "density strategy",
    EVALUATORS: "evaluator",
    RASTERIZERS: "rasterizer backend",
    COMMANDS: "command",
}

#: Plural of each kind, for listings ("no density strategies installed").
GROUP_PLURALS: dict[str, str] = {
    AUDIO_ENCODERS: "audio encoders",
    FUSION: "fusion modules",
    DENSITY: "density strategies",
    EVALUATORS: "evaluators",
    RASTERIZERS: "rasterizer backends",
    COMMANDS: "commands",
}

#: The toolkit distribution that provides plugins for each group.
GROUP_PROVIDERS: dict[str, str] = {
    AUDIO_ENCODERS: "pgs-audio",
    FUSION: "pgs-fusion",
    DENSITY: "pgs-density",
    EVALUATORS: "pgs-eval",
    RASTERIZERS: "pgs-core",
    COMMANDS: "pgs-core",
}

#: Names of the toolkit's own components and the distribution that ships each, so an unknown
#: name can be answered with "pip install <distribution>".
KNOWN_COMPONENTS: dict[str, dict[str, str]] = {
    AUDIO_ENCODERS: {n: "pgs-audio" for n in ("mel", "mfcc", "npy", "hubert", "wav2vec2")},
    FUSION: {
        "mgf": "pgs-fusion",
        "concat-mlp": "pgs-fusion",
        "cross-attention": "pgs-fusion",
        "film": "pgs-fusion-film (examples/pgs-fusion-film)",
    },
    DENSITY: {n: "pgs-density" for n in ("gradient", "pixel-aware")},
    EVALUATORS: {n: "pgs-eval" for n in ("psnr", "ssim", "lpips", "lmd", "lse", "fps")},
    RASTERIZERS: {"torch": "pgs-core", "cpu": "pgs-core", "gsplat": "pgs-core"},
    COMMANDS: {
        "prep": "pgs-prep",
        "eval": "pgs-eval",
        "ablate": "pgs-eval",
    },
}


def check_group(group: str) -> str:
    """Return `group` if it is a known entry-point group, else raise `ValueError` listing them."""
    if group not in ALL_GROUPS:
        raise ValueError(f"unknown plugin group {group!r}; known groups: {', '.join(ALL_GROUPS)}")
    return group
