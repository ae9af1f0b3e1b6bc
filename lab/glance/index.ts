// lab/glance: a real glance-api per deployed site (Debian's Glance over the site's real Ceph),
// configured from the parameters its `overcloud deploy` received, and Nova's COW boot from it.
export {
    type CephExternalCluster,
    type GlanceMultistoreEntry,
    type GlanceSiteParams,
    type GlanceBind,
    type LabIdentity,
    type LabToken,
    type RenderedGlance,
    GLANCE_DEFAULTS,
    glancePaths,
    glanceSiteParamsFromHeat,
    labTokens,
    mergeParameterDefaults,
    renderGlanceApiConf,
    renderPasteIni,
    renderTokensFile,
    validateGlanceSiteParams,
} from "./config";
export {
    type StartGlanceOptions,
    glanceApiMemoryKiB,
    glanceApiStatus,
    glanceTokens,
    startGlanceApi,
    stopGlanceApi,
    wipeGlanceApi,
    writeGlanceTokens,
} from "./process";
export { ImageNotOnRbdError, cowBootFromStore } from "./nova";
