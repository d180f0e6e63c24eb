{
  description = "mitigator: Flowmon detections to LoadMaster / CryptoSpike blocks";

  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-24.11";

  outputs = { self, nixpkgs }:
    let
      systems = [ "x86_64-linux" "aarch64-linux" ];
      forAll = f: nixpkgs.lib.genAttrs systems (system: f nixpkgs.legacyPackages.${system});
    in {
      devShells = forAll (pkgs: {
        default = pkgs.mkShell {
          # python3, gcc and make: better-sqlite3 is compiled by node-gyp when no prebuilt binary is reachable.
          packages = [ pkgs.nodejs_20 pkgs.python3 pkgs.gcc pkgs.gnumake pkgs.sqlite pkgs.postgresql pkgs.dash pkgs.curl pkgs.openssl pkgs.util-linux ];
        };
      });
    };
}
