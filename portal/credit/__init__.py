"""Credit: the applications desk, the policy cut-offs and the model registry."""
