"""AWS Security Token Service: who am I, and temporary credentials for roles."""
