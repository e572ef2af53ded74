import { PolicyPack } from '@pulumi/policy';
import { RESOURCE_RULES, STACK_RULES } from './rules';

new PolicyPack('two-tier', {
  policies: [
    ...RESOURCE_RULES.map((rule) => ({
      name: rule.name,
      description: rule.description,
      enforcementLevel: rule.enforcementLevel,
      validateResource: (
        args: { type: string; name: string; props: Record<string, unknown> },
        reportViolation: (message: string) => void,
      ) => {
        for (const violation of rule.check({ type: args.type, name: args.name, props: args.props }))
          reportViolation(violation);
      },
    })),
    ...STACK_RULES.map((rule) => ({
      name: rule.name,
      description: rule.description,
      enforcementLevel: rule.enforcementLevel,
      validateStack: (
        args: {
          resources: Array<{
            type: string;
            name: string;
            urn: string;
            props: Record<string, unknown>;
            dependencies: Array<{ urn: string }>;
          }>;
        },
        reportViolation: (message: string) => void,
      ) => {
        const resources = args.resources.map(({ type, name, urn, props, dependencies }) => ({
          type,
          name,
          urn,
          props,
          dependencies: dependencies.map((dependency) => dependency.urn),
        }));
        for (const violation of rule.check(resources)) reportViolation(violation);
      },
    })),
  ],
});
