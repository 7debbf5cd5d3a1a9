// Package container holds the tests of tenantctl's container files, the
// repository's Dockerfile and compose.yaml (README, "Containers"):
//
//   - files_test.go reads both as data in every `make test`: the compose
//     file's services, images, healthchecks, depends_on conditions and the
//     environment each binary reads (checked against the variables their
//     --help names), and the Dockerfile's base, user, entry point,
//     health check, labels and environment (no secret in it);
//   - image_test.go (TestImage) builds the image with podman from what
//     `make image-context` staged in bin/image/, runs it against a test
//     database and stops it. It runs only under `make image-test`, which
//     sets TENANTCTL_IMAGE_TEST=1; there a missing podman is a failure
//     (installed with apt-get first when running as root), not a skip.
//
// The package has no code of its own.
package container
