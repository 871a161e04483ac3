"""`export`: a checkpoint as a TensorFlow SavedModel with the resizing and
the unmolding inside the graph (mrcnn.export), for TF Serving, a service or
any TensorFlow program.

    mrcnn export --weights=last|PATH --out DIR [--config YAML] [--set K=V] [--overwrite]
"""
import os

from mrcnn.commands import UsageError
from mrcnn.commands.session import configure, load_model


def run_export(args, project):
    """Export; returns the exit code."""
    from mrcnn.export import (
        OUTPUTS,
        SIGNATURES,
        check_out_dir,
        export_dtype_policy,
        export_saved_model,
    )

    out = os.path.abspath(args.out)
    try:
        # Before the model is built: a refusal costs nothing.
        check_out_dir(out, args.overwrite)
    except ValueError as e:
        raise UsageError(f"--out: {e}") from e
    if str(args.weights).lower() in ("none", "imagenet"):
        raise UsageError(f"--weights={args.weights} has no trained heads to export; give last, "
                         "coco or a checkpoint file")
    config, path, _ = configure(project, args, "inference")
    policy = export_dtype_policy(config.DTYPE_POLICY)
    if policy != config.DTYPE_POLICY:
        # Set before building: export_saved_model would otherwise build a
        # float32 copy of this machine's choice.
        print(f"Exporting in {policy} (DTYPE_POLICY {config.DTYPE_POLICY!r} chooses by the "
              "machine, and a SavedModel runs on others); --set DTYPE_POLICY=mixed_bfloat16 "
              "exports bfloat16")
        config.DTYPE_POLICY = policy
    config.validate()
    class_names = config.class_names()
    model, _ = load_model("inference", config, args, path)
    try:
        written = export_saved_model(model, out, class_names, overwrite=args.overwrite,
                                     checkpoint=path)
    except ValueError as e:
        raise UsageError(str(e)) from e
    print(f"SavedModel of {path or args.weights} ({model.precision.policy}, "
          f"{len(class_names) - 1} classes) written to {written}")
    print("Signatures (one image per call):")
    for name, inputs in SIGNATURES.items():
        described = ", ".join(f"{key} {dtype} {shape}" for key, (dtype, shape) in inputs.items())
        print(f"  {name}({described})")
    print("Outputs: " + ", ".join(f"{key} {dtype} {shape}"
                                  for key, (dtype, shape) in OUTPUTS.items()))
    return 0
