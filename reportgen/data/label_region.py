"""Where a data set's label is decided, which the checks built on PCam's labelling rule need.

PCam labels a 96x96 patch tumour when its centre 32x32 holds tumour, so the right-for-the-right-reason test (do
the tumour calls survive replacing everything outside the centre?) and the centre-attribution checks (does a map
put at least a uniform map's share on the centre?) have a region to test against.  Another team's patches need
not follow that rule: an image folder declares it with ``label_region = "centre32"`` in the configuration, and
without it those checks do not apply (the report says so on page one).
"""

from __future__ import annotations

from reportgen.data.files import PATCH_SIZE
from reportgen.errors import ConfigError

#: The centre 32x32 of a 96x96 patch decides the label (PCam's rule).
CENTRE = "centre32"
#: The data declare no region that decides the label.
UNDECLARED = "none"
LABEL_REGIONS = {CENTRE: "the centre 32x32 decides the label (PCam's rule)",
                 UNDECLARED: "the data declare no region that decides the label"}
#: Data sources whose label region is PCam's by definition (the PCam files and the synthetic set in their layout).
PCAM_SOURCES = ("pcam", "synthetic")


def check_label_region(stated: str | None) -> None:
    """Refuse a ``label_region`` that is none of :data:`LABEL_REGIONS`."""
    if stated is not None and stated not in LABEL_REGIONS:
        raise ConfigError(f"option 'label_region' {stated!r} is unknown; choose {CENTRE!r} (the centre 32x32 decides "
                          f"the label, as in PCam) or {UNDECLARED!r}")


def label_region(source: str, stated: str | None, patch_size: int = PATCH_SIZE) -> str:
    """The data's label region: PCam's for the PCam layout, else what the configuration states (default none).

    PCam's region is the centre 32x32 of a 96x96 patch; stated for patches of another size, it is refused in one
    line (ConfigError) rather than scaled, since no other data set's labelling rule is known to be its like.
    """
    if source in PCAM_SOURCES:
        return CENTRE
    if stated == CENTRE and patch_size != PATCH_SIZE:
        raise ConfigError(f"label_region {CENTRE!r} is PCam's centre 32x32 of a {PATCH_SIZE}x{PATCH_SIZE} patch, but "
                          f"these patches are {patch_size}x{patch_size}; leave label_region unset (the checks built "
                          "on the centre then do not apply)")
    return stated or UNDECLARED


def applies(region: str | None) -> bool:
    """Whether the checks built on the centre 32x32 apply (an earlier report, without the key, was PCam's)."""
    return region != UNDECLARED
