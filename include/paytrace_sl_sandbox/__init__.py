"""The workbench beside paytrace-sl, not shipped in it: PayTrace sandbox, SL sandbox seed, demo."""
