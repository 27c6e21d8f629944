"""ackaudit: the command line for ACK container operation audit."""

__version__ = "0.1.0"
