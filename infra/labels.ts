/** The labels a tier's pods carry and its Services and policies select on. */
export function tierLabels(tier: 'web' | 'database'): Record<string, string> {
  return { 'app.kubernetes.io/name': 'two-tier', 'app.kubernetes.io/component': tier };
}

/** The Pod Security Standard "restricted" settings every pod of this program runs with. */
export function restrictedPod(uid: number) {
  return {
    runAsNonRoot: true,
    runAsUser: uid,
    runAsGroup: uid,
    fsGroup: uid,
    seccompProfile: { type: 'RuntimeDefault' },
  };
}

/** The container half of "restricted", with a read-only root filesystem. */
export const restrictedContainer = {
  allowPrivilegeEscalation: false,
  readOnlyRootFilesystem: true,
  runAsNonRoot: true,
  capabilities: { drop: ['ALL'] },
};
