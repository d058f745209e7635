"""The maths of the attack lab: input gradients, evasion, extraction, membership, leakage,
backdoors and weight-file inspection. The experiments in ``engine.experiments`` measure with it."""
