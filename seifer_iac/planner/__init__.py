"""Pure planning: model profile + cluster -> Plan. Imports no TensorFlow, pulumi or zmq."""
