"""Record keys and their Salesforce and HubSpot id strings.

Internally every record is an int64 key: the object's type code in the high bits and a local
number below, so a reference column (even a polymorphic one such as Task.WhoId) says by itself
which object it points to. Salesforce ids are rendered as real-looking 18-character ids (key
prefix, base-62 body, and the case-safety suffix Salesforce computes); HubSpot ids are numbers.
"""

from __future__ import annotations

import numpy as np

from emulator.schema import SF_OBJECTS

TYPE_SHIFT = 56
LOCAL_MASK = (1 << TYPE_SHIFT) - 1
NULL_KEY = -1

# Stable type codes: append only, never reorder (ids in a warehouse depend on them).
TYPE_CODES = {
    name: code
    for code, name in enumerate(
        [
            "User",
            "UserRole",
            "Account",
            "Contact",
            "Lead",
            "Opportunity",
            "OpportunityStage",
            "OpportunityHistory",
            "OpportunityFieldHistory",
            "Task",
            "Event",
            "Campaign",
            "CampaignMember",
            "Period",
            "ForecastingQuota",
            "Territory2",
            "UserTerritory2Association",
            "ObjectTerritory2Association",
            "CurrencyType",
            "DatedConversionRate",
            "Territory2Model",
            "ForecastingType",
            "FiscalYearSettings",
        ],
        start=1,
    )
}
_EXTRA_PREFIXES = {"Territory2Model": "0MA", "ForecastingType": "0Db", "FiscalYearSettings": "022"}
_PREFIX_BY_CODE = {
    code: (SF_OBJECTS[name].key_prefix if name in SF_OBJECTS else _EXTRA_PREFIXES[name])
    for name, code in TYPE_CODES.items()
}
_CODE_BY_PREFIX = {prefix: code for code, prefix in _PREFIX_BY_CODE.items()}
_ALPHABET = np.frombuffer(
    b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", np.uint8
)
_SUFFIX = np.frombuffer(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ012345", np.uint8)
_DIGIT = {c: i for i, c in enumerate(_ALPHABET.tobytes().decode())}
HUBSPOT_ID_OFFSET = 1_000_000_000


def make_keys(object_name: str, local) -> np.ndarray:
    local = np.asarray(local, dtype=np.int64)
    return (np.int64(TYPE_CODES[object_name]) << np.int64(TYPE_SHIFT)) | local


def local_part(keys) -> np.ndarray:
    return np.asarray(keys, dtype=np.int64) & np.int64(LOCAL_MASK)


def sf_ids(keys) -> np.ndarray:
    """Render keys (int64, -1 = null) as 18-character Salesforce ids (object array, None = null)."""
    keys = np.asarray(keys, dtype=np.int64)
    out = np.full(keys.shape, None, dtype=object)
    valid = keys >= 0
    if not valid.any():
        return out
    k = keys[valid]
    codes = k >> np.int64(TYPE_SHIFT)
    local = k & np.int64(LOCAL_MASK)
    chars = np.empty((k.size, 18), dtype=np.uint8)
    prefixes = np.array(
        [_PREFIX_BY_CODE.get(int(c), "000").encode() for c in range(max(_PREFIX_BY_CODE) + 1)],
        dtype="S3",
    )
    chars[:, :3] = np.frombuffer(prefixes[codes].tobytes(), np.uint8).reshape(-1, 3)
    chars[:, 3] = ord("0")
    rest = local.copy()
    for pos in range(14, 3, -1):
        chars[:, pos] = _ALPHABET[rest % 62]
        rest //= 62
    for chunk in range(3):
        block = chars[:, chunk * 5 : chunk * 5 + 5]
        upper = (block >= ord("A")) & (block <= ord("Z"))
        index = (upper * (1 << np.arange(5))).sum(axis=1)
        chars[:, 15 + chunk] = _SUFFIX[index]
    out[valid] = chars.view("S18").ravel().astype(str)
    return out


def parse_sf_id(value: str) -> int:
    """Key of a 15- or 18-character Salesforce id; raises ValueError for a malformed id."""
    if len(value) not in (15, 18) or value[:3] not in _CODE_BY_PREFIX:
        raise ValueError(f"malformed id: {value!r}")
    local = 0
    for ch in value[4:15]:
        if ch not in _DIGIT:
            raise ValueError(f"malformed id: {value!r}")
        local = local * 62 + _DIGIT[ch]
    return (_CODE_BY_PREFIX[value[:3]] << TYPE_SHIFT) | local


def hs_ids(keys) -> np.ndarray:
    """HubSpot ids: decimal strings (object array, None = null)."""
    keys = np.asarray(keys, dtype=np.int64)
    out = np.full(keys.shape, None, dtype=object)
    valid = keys >= 0
    out[valid] = (local_part(keys[valid]) + HUBSPOT_ID_OFFSET).astype(str)
    return out


def parse_hs_id(value: str | int, object_name: str) -> int:
    return int(make_keys(object_name, int(value) - HUBSPOT_ID_OFFSET))
