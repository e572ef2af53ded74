/** A role's trust policy that lets one AWS service assume it (ec2.amazonaws.com, dlm.amazonaws.com, ...). */
export function assumableBy(service: string): string {
  return JSON.stringify({
    Version: '2012-10-17',
    Statement: [{ Effect: 'Allow', Principal: { Service: service }, Action: 'sts:AssumeRole' }],
  });
}
