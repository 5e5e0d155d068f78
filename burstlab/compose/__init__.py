"""The compose stack from the outside: the Compose command this machine has, a private Docker
engine where none runs, and stand-in images built from Debian's packages where no registry can be
reached."""
