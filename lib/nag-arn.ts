/**
 * ARNs the way cdk-nag names resources in its findings, for acknowledgements of
 * `AwsSolutions-IAM5[Resource::...]` that name exactly the resource granted.
 */
import { Stack } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';

/** An ARN as cdk-nag prints it: `<LogicalId.Arn>`, pseudo parameters as `<AWS::...>`. */
export function nagArn(scope: IConstruct, arn: string): string {
  return renderForNag(Stack.of(scope).resolve(arn) as unknown);
}

/** Renders a resolved CloudFormation value the way cdk-nag names resources in findings. */
function renderForNag(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value !== null && typeof value === 'object') {
    const obj = value as Record<string, unknown>;
    if (typeof obj.Ref === 'string') return `<${obj.Ref}>`;
    const getAtt = obj['Fn::GetAtt'];
    if (Array.isArray(getAtt)) return `<${getAtt.join('.')}>`;
    const join = obj['Fn::Join'];
    if (Array.isArray(join)) {
      const [separator, parts] = join as [string, unknown[]];
      return parts.map(renderForNag).join(separator);
    }
  }
  return JSON.stringify(value);
}
