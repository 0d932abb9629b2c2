"""CrossGuard pack: `pulumi preview --policy-pack infra/policy` runs dcops' plan checks on the real engine's
resources. The validations live in dcops.cloud.crossguard (unit-tested there); this file only wraps them."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository: dcops without installing it

from pulumi_policy import EnforcementLevel, PolicyPack, ResourceValidationPolicy  # noqa: E402

from dcops.cloud.crossguard import POLICIES, validate  # noqa: E402


def _policy(name: str, description: str) -> ResourceValidationPolicy:
    def check(args, report_violation):
        for message in validate(name, args):
            report_violation(message)

    return ResourceValidationPolicy(name=name, description=description, validate=check,
                                    enforcement_level=EnforcementLevel.MANDATORY)


PolicyPack(name="dcops-cloud", policies=[_policy(n, d) for n, (d, _) in sorted(POLICIES.items())])
