"""The test stack's port chooser never hands out one port twice (Pebble's API and management
port once were the same: "address already in use")."""

from tests.stack import free_port, free_ports


def test_ports_chosen_together_are_all_different():
    ports = free_ports(40)
    assert len(set(ports)) == 40


def test_a_port_handed_out_once_is_never_handed_out_again():
    first = free_ports(10)
    later = [free_port() for _ in range(30)]
    assert len(set(later)) == 30 and not set(first) & set(later)
