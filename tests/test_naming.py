"""Kernel object names: deterministic, within IFNAMSIZ, carrying the lab's identity."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from netlab import naming


class TestFitIfname:
    def test_short_names_are_kept(self) -> None:
        assert naming.fit_ifname("br-front") == "br-front"

    @given(st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=60))
    def test_always_fits_and_is_deterministic(self, name: str) -> None:
        fitted = naming.fit_ifname(f"ve-{name}-0")
        assert len(fitted.encode()) <= naming.IFNAMSIZ
        assert fitted == naming.fit_ifname(f"ve-{name}-0")

    def test_long_names_differ_by_hash(self) -> None:
        a = naming.veth_host_name("averyverylongcontainername", 0)
        b = naming.veth_host_name("averyverylongcontainername", 1)
        assert a != b and len(a) == len(b) == 15

    def test_unicode_is_cut_on_a_character_boundary(self) -> None:
        fitted = naming.fit_ifname("br-ééééééééééééééé")
        assert len(fitted.encode()) <= 15
        fitted.encode().decode()


class TestNamespaces:
    def test_lab_identity_in_every_namespace(self) -> None:
        prefix = naming.lab_prefix("demo")
        for ns in (naming.host_netns("demo", "h1"), naming.sandbox_netns("demo", "web"),
                   naming.overlay_netns("demo", "ov", "h1")):
            assert ns.startswith(prefix)

    def test_two_labs_never_clash(self) -> None:
        assert naming.host_netns("a", "h1") != naming.host_netns("b", "h1")


def test_bridge_and_vxlan_names() -> None:
    assert naming.bridge_name("front") == "br-front"
    assert naming.bridge_name("front", "docker1") == "docker1"
    assert naming.vxlan_names(256) == ("ov-000100", "vx-000100")
    assert naming.sandbox_ifname(2) == "eth2"
