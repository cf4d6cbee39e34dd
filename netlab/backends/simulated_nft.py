"""The simulated backend's nftables: one ``nft -j -f`` transaction over a namespace's tables, and their listing.

Only what netlab's rulesets use is understood: ``add table|chain|rule``, ``delete table``,
``flush table|chain`` (a bare ``table``/``chain``/``rule`` object means ``add``; ``metainfo``
is skipped). Anything else, and anything malformed, raises :class:`NftError` with the errno
nft's kernel side would give (the simulated backend reports every one as ``EINVAL``, as the
kernel backend does for any failure of the ``nft`` process). Base chains get a numeric
priority and a policy, as ``nft -j list ruleset`` shows them; rule expressions are kept as given.
"""

from __future__ import annotations

import copy
import errno
import os
from typing import Any

from netlab.errors import BackendError

__all__ = ["NftError", "apply_nft", "listing", "resulting_ruleset"]

_NFT_OK = {("add", "table"), ("add", "chain"), ("add", "rule"), ("delete", "table"), ("flush", "table"),
           ("flush", "chain")}
_PRIO = {"raw": -300, "mangle": -150, "dstnat": -100, "filter": 0, "security": 50, "srcnat": 100}
_BRIDGE_PRIO = {"dstnat": -300, "filter": -200, "out": 100, "srcnat": 300}


class NftError(Exception):
    """A command nft would refuse: ``code`` is its errno, ``detail`` says why."""

    def __init__(self, code: int, detail: str) -> None:
        super().__init__(detail)
        self.code, self.detail = code, detail


def apply_nft(tables: list[dict[str, Any]], doc: Any) -> list[dict[str, Any]]:
    """Apply an nft JSON document to a copy of ``tables`` (a transaction: nothing changes on error)."""
    if not isinstance(doc, dict) or not isinstance(doc.get("nftables"), list):
        raise NftError(errno.EINVAL, 'ruleset must be {"nftables": [...]}')
    state = copy.deepcopy(tables)
    for entry in doc["nftables"]:
        if not isinstance(entry, dict) or len(entry) != 1:
            raise NftError(errno.EINVAL, f"malformed nft command {entry!r}")
        ((verb, body),) = entry.items()
        if verb == "metainfo":
            continue
        if verb in ("table", "chain", "rule"):      # a bare object means "add"
            verb, body = "add", {verb: body}
        if not isinstance(body, dict) or len(body) != 1:
            raise NftError(errno.EINVAL, f"unsupported nft command {verb!r}")
        ((kind, obj),) = body.items()
        if (verb, kind) not in _NFT_OK:
            raise NftError(errno.EINVAL, f"unsupported nft command '{verb} {kind}' (only add table/chain/rule, "
                                      "delete table, flush table/chain)")
        if not isinstance(obj, dict):
            raise NftError(errno.EINVAL, f"malformed nft {kind} {obj!r}")
        _nft_one(state, verb, kind, {k: v for k, v in obj.items() if k != "handle"})
    return state


def _nft_one(state: list[dict[str, Any]], verb: str, kind: str, obj: dict[str, Any]) -> None:
    key = "name" if kind == "table" else "table"
    family, tname = obj.get("family"), obj.get(key)
    if not isinstance(family, str) or not isinstance(tname, str):
        raise NftError(errno.EINVAL, f"nft {kind} needs 'family' and {key!r}: {obj!r}")
    table = next((t for t in state if (t["table"]["family"], t["table"]["name"]) == (family, tname)), None)
    if table is None and (verb, kind) != ("add", "table"):
        raise NftError(errno.ENOENT, f"no nft table {family} {tname}")
    if kind == "table":
        if verb == "add" and table is None:
            state.append({"table": obj, "chains": []})
        elif verb == "delete" and table is not None:
            state.remove(table)
        elif verb == "flush" and table is not None:
            for chain in table["chains"]:
                chain["rules"] = []
        return
    assert table is not None
    cname = obj.get("name" if kind == "chain" else "chain")
    chain = next((c for c in table["chains"] if c["chain"]["name"] == cname), None)
    if (verb, kind) == ("add", "chain"):
        if not isinstance(cname, str):
            raise NftError(errno.EINVAL, f"nft chain needs a 'name': {obj!r}")
        if chain is None:
            if "hook" in obj:     # nft lists base chains with a numeric priority and a policy
                prio = obj.get("prio")
                if isinstance(prio, str):
                    prio = (_BRIDGE_PRIO if family == "bridge" else _PRIO).get(prio, prio)
                obj = {**obj, "prio": prio, "policy": obj.get("policy", "accept")}
            table["chains"].append({"chain": obj, "rules": []})
    elif chain is None:
        raise NftError(errno.ENOENT, f"no nft chain {family} {tname} {cname}")
    elif kind == "chain":
        chain["rules"] = []
    elif not isinstance(obj.get("expr"), list) or {"index", "position"} & obj.keys():
        raise NftError(errno.EINVAL, f"nft rule needs an 'expr' list and no position: {obj!r}")
    else:
        chain["rules"].append(obj)


def listing(tables: list[dict[str, Any]]) -> list[dict[str, Any]] | None:
    """Tables as ``nft -j list ruleset`` orders them: table, its chains, then its rules chain by chain."""
    out: list[dict[str, Any]] = []
    for table in tables:
        out.append({"table": copy.deepcopy(table["table"])})
        out += [{"chain": copy.deepcopy(c["chain"])} for c in table["chains"]]
        out += [{"rule": copy.deepcopy(r)} for c in table["chains"] for r in c["rules"]]
    return out or None


def resulting_ruleset(doc: dict[str, Any]) -> list[dict[str, Any]] | None:
    """The normalised ruleset (as in :class:`NamespaceState`) after applying ``doc`` to an empty namespace."""
    try:
        return listing(apply_nft([], doc))
    except NftError as fail:
        raise BackendError(f"nft: {os.strerror(fail.code)}: {fail.detail}", fail.code) from None
