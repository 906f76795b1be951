"""The PayTrace sandbox, the SL sandbox seed and the demo: the workbench beside paytrace-sl (not shipped in it)."""
