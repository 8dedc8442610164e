"""How to read things from hosts: one module per kind of source; parsers are pure and unit-tested."""
