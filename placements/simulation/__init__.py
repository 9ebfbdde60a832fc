"""A simulated year of the service: SimPy driving the real use cases."""
