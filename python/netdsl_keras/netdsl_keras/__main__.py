"""The command line: `python -m netdsl_keras <command> ...` (or `netdsl-keras` once installed).

    python -m netdsl_keras from-keras model.keras --name Mnist --weights mnist.safetensors --declaration mnist.rs
    python -m netdsl_keras to-keras mnist.rs --weights mnist.safetensors --output mnist.keras
    python -m netdsl_keras from-torch state_dict.pt mnist.rs --weights mnist.safetensors

`from-keras` reads a `.keras` file and writes netdsl's weights and the `network!` declaration;
`to-keras` builds the Keras model of a declaration, loads netdsl's weights and saves it as a
`.keras` file; `from-torch` maps a saved `state_dict` (a `torch.save` file, which needs torch,
or a safetensors file of PyTorch's names, which does not) to netdsl's weights for the declaration.
"""

import argparse
import sys


def main(argv=None):
    parser = argparse.ArgumentParser(prog="netdsl_keras", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)

    keras_in = commands.add_parser("from-keras", help="a .keras model -> netdsl weights and declaration")
    keras_in.add_argument("model", help="the .keras file")
    keras_in.add_argument("--name", default="Net", help="the network's struct name (default: Net)")
    keras_in.add_argument("--weights", required=True, help="the safetensors file to write")
    keras_in.add_argument("--declaration", help="the Rust file to write the `network!` declaration to (default: print it)")

    keras_out = commands.add_parser("to-keras", help="a netdsl declaration and weights -> a .keras model")
    keras_out.add_argument("declaration", help="a file holding the `network!` declaration")
    keras_out.add_argument("--name", help="the network to read, if the file declares several")
    keras_out.add_argument("--weights", help="the safetensors file netdsl's save_weights wrote")
    keras_out.add_argument("--output", required=True, help="the .keras file to write")

    torch_in = commands.add_parser("from-torch", help="a PyTorch state_dict -> netdsl weights")
    torch_in.add_argument("state_dict", help="a torch.save file of the state_dict, or a safetensors file")
    torch_in.add_argument("declaration", help="a file holding the netdsl network's `network!` declaration")
    torch_in.add_argument("--name", help="the network to read, if the file declares several")
    torch_in.add_argument("--weights", required=True, help="the safetensors file to write")

    args = parser.parse_args(argv)
    from . import (
        DeclarationError, UnsupportedLayer, keras_to_netdsl, load_safetensors, netdsl_to_keras,
        save_safetensors, torch_to_netdsl,
    )
    from .torch_to_netdsl import TorchMappingError

    try:
        if args.command == "from-keras":
            converted = keras_to_netdsl(args.model, args.name)
            converted.save(args.weights, args.declaration)
            if args.declaration is None:
                sys.stdout.write(converted.declaration)
        elif args.command == "to-keras":
            with open(args.declaration) as file:
                text = file.read()
            model = netdsl_to_keras(text, args.weights, name=args.name)
            model.save(args.output)
        else:
            with open(args.declaration) as file:
                text = file.read()
            if args.state_dict.endswith(".safetensors"):
                state_dict = load_safetensors(args.state_dict)[0]
            else:
                import torch

                state_dict = torch.load(args.state_dict, map_location="cpu", weights_only=True)
            save_safetensors(args.weights, torch_to_netdsl(state_dict, text, name=args.name))
    except (UnsupportedLayer, DeclarationError, TorchMappingError, OSError) as error:
        print(f"netdsl_keras: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
