import * as pulumi from '@pulumi/pulumi';

export interface DeleteDelayArgs {
  /** How long its deletion takes, seconds: what depends on it waits that long before its own. */
  readonly seconds: number;
}

// Serialized into the state with each resource: it may use only what Node.js itself provides.
const delayProvider: pulumi.dynamic.ResourceProvider = {
  // Only its duration is compared: a new version of this code (serialized into the inputs too) is no
  // change of the resource.
  async diff(_id, olds, news) {
    return { changes: Number(olds.seconds) !== Number(news.seconds) };
  },
  async create(inputs) {
    return { id: 'delete-delay', outs: inputs };
  },
  async update(_id, _olds, news) {
    return { outs: news };
  },
  async delete(_id, props) {
    await new Promise((resolve) => setTimeout(resolve, Number(props.seconds) * 1000));
  },
};

/**
 * Holds nothing; deleting it takes `seconds`. Pulumi deletes a resource's dependents before the
 * resource, so the resources it depends on outlive the start of their deletion by that long: the
 * database tier an engine switch leaves behind is deleted only once the web pods that were rolled
 * away from it have ended (their termination grace period), instead of under their last requests.
 * A dynamic resource: it runs in the program's own Node.js (its provider comes with the Pulumi CLI).
 */
export class DeleteDelay extends pulumi.dynamic.Resource {
  public readonly seconds!: pulumi.Output<number>;

  constructor(name: string, args: DeleteDelayArgs, opts?: pulumi.CustomResourceOptions) {
    super(delayProvider, name, { seconds: args.seconds }, opts, undefined, 'DeleteDelay');
  }
}
