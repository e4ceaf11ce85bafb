"""sockhub: a real-time messaging server wire-compatible with Centrifugo 1.x."""

#: sockhub's version, the one place it is written: the package metadata
#: (setup.cfg ``attr:``), ``sockhub version``, NodeInfo (API ``node``/``stats``,
#: the admin page) and ``/metrics`` (:func:`version`) all read it.
__version__ = "0.1.0"
#: What a 1.x connect reply reports as "version": the Centrifugo release whose
#: wire format the 1.x dialect speaks (clients only display it).
PROTOCOL_VERSION = "1.8.0"


def version() -> str:
    """sockhub's version (``__version__``), e.g. for a build-info metric."""
    return __version__
