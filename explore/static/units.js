// The Units view: one feature map's top 9 (deconvnet projections beside the
// image patches they see), its optimised image (feature visualisation, computed
// for the whole layer in the background) and its evolution over the recorded epochs.
import {View, api, el, linkFor, note, picture, sleep, writeLink} from './common.js';

const POLL_MS = 400;

export function parseUnit(text, layers) {
  const match = /^\s*(.+?)\s*(?:\/|\s|:)\s*(\d+)\s*$/.exec(text);
  if (!match) return null;
  const layer = layers.find((l) => l.name === match[1]);
  if (!layer || Number(match[2]) >= layer.shape[2]) return null;
  return {layer: layer.name, map: Number(match[2])};
}

export class UnitsView extends View {
  constructor(root, info, link) {
    super(root, info, link);
    this.token = 0;
    const known = info.layers.find((l) => l.name === link.layer);
    this.layer = known ? known.name : info.default_layer;
    const count = this.layerInfo().shape[2];
    this.map = Math.min(Math.max(0, parseInt(link.map, 10) || 0), count - 1);
  }

  layerInfo() {
    return this.info.layers.find((l) => l.name === this.layer);
  }

  start() {
    this.layerSelect = el('select', {id: 'layer', title: 'layer'});
    for (const layer of this.info.layers) {
      this.layerSelect.append(el('option', {value: layer.name}, `${layer.name} (${layer.shape[2]} maps)`));
    }
    this.mapInput = el('input', {id: 'map', type: 'number', min: 0, title: 'feature map'});
    this.search = el('input', {id: 'search', type: 'search', placeholder: 'conv3 / 17', title: 'layer / map'});
    this.method = this.methodSelect('method');
    this.permalink = el('a', {id: 'permalink', target: '_top'}, 'permanent link');
    const prev = el('button', {id: 'prev-map', onclick: () => this.go(this.layer, this.map - 1)}, '< map');
    const next = el('button', {id: 'next-map', onclick: () => this.go(this.layer, this.map + 1)}, 'map >');
    this.layerSelect.addEventListener('change', () => this.go(this.layerSelect.value, 0));
    this.mapInput.addEventListener('change', () => this.go(this.layer, parseInt(this.mapInput.value, 10) || 0));
    this.method.addEventListener('change', () => this.go(this.layer, this.map));
    this.search.addEventListener('keydown', (event) => {
      if (event.key !== 'Enter') return;
      const unit = parseUnit(this.search.value, this.info.layers);
      this.search.classList.toggle('bad', !unit);
      if (unit) this.go(unit.layer, unit.map);
    });
    const controls = el('div', {class: 'controls'}, 'layer ', this.layerSelect, ' map ', this.mapInput, prev, next,
                        ' go to ', this.search,
                        this.info.methods.length > 1 ? [' method ', this.method] : [], ' ', this.permalink);
    this.body = el('div', {id: 'unit'});
    this.root.append(controls, this.body);
    this.go(this.layer, this.map);
  }

  go(layer, map) {
    const count = this.info.layers.find((l) => l.name === layer).shape[2];
    this.layer = layer;
    this.map = Math.min(Math.max(0, map), count - 1);
    this.layerSelect.value = layer;
    this.mapInput.max = count - 1;
    this.mapInput.value = this.map;
    const state = {run: this.info.run, view: 'units', layer, map: this.map,
                   method: this.info.methods.length > 1 ? this.method.value : undefined};
    Object.assign(this.link, state);
    this.permalink.href = linkFor(state);
    writeLink(state);
    this.load();
  }

  async load() {
    const token = ++this.token;
    const params = {run: this.info.run, layer: this.layer, map: this.map, method: this.method.value || 'deconvnet'};
    const bar = el('progress', {id: 'mining', max: 1, value: 0});
    this.visualization = el('figure', {id: 'visualization'});
    this.body.replaceChildren(note(`Loading ${this.layer} / ${this.map}...`), this.visualization);
    this.loadVisualization(token);
    try {
      for (;;) {
        const unit = await api('unit', params);
        if (token !== this.token) return;
        if (unit.status === 'ready') {
          this.show(unit);
          return;
        }
        bar.value = unit.progress;
        this.body.replaceChildren(el('p', {class: 'note'}, `Mining ${this.layer}'s top 9 over ${unit.images} images `
                                     + '(once; stored in the run folder) ', bar), this.visualization);
        await sleep(POLL_MS);
      }
    } catch (error) {
      if (token === this.token) this.body.replaceChildren(note(error.message, 'error'));
    }
  }

  // The map's optimised image (and, for MaCo, the same faded by its transparency),
  // polled while the layer's images are optimised in the background.
  async loadVisualization(token) {
    const figure = this.visualization;
    const settings = this.info.visualization;
    const params = {run: this.info.run, layer: this.layer, map: this.map};
    const what = `${settings.method}, ${settings.steps} steps, seed ${settings.seed}`;
    try {
      for (;;) {
        const found = await api('visualization', params);
        if (token !== this.token) return;
        if (found.status === 'ready') {
          const entry = found.entries[0];
          const caption = `optimised image (${what}): the map's mean reaches ${entry.value}`;
          figure.replaceChildren(el('div', {class: 'row'}, picture(entry.image, caption, 'fv'),
                                    entry.faded ? picture(entry.faded, `${caption}; faded by its transparency`,
                                                          'fv faded') : []),
                                 el('figcaption', {}, `optimised image (${what})`
                                    + (entry.faded ? '; right: faded where the map did not care (transparency)' : '')
                                    + `; mean activation ${entry.value}`));
          return;
        }
        const [done, total] = found.chunks;
        const bar = el('progress', {max: total});
        if (done) bar.value = done;   // no value: an indeterminate bar until the first batch is done
        figure.replaceChildren(el('p', {class: 'note'}, `Optimising ${this.layer}'s ${found.maps} maps (${what}; `
                                  + `${settings.chunk} at a time, this one first; once, stored in the run folder): `
                                  + `${done} of ${total} batches done `, bar));
        await sleep(POLL_MS);
      }
    } catch (error) {
      if (token === this.token) figure.replaceChildren(note(`Optimised image: ${error.message}`, 'error'));
    }
  }

  show(unit) {
    const projections = el('div', {class: 'grid3', id: 'projections'});
    const patches = el('div', {class: 'grid3', id: 'patches'});
    for (const [rank, panel] of unit.panels.entries()) {
      const what = `#${rank + 1}: image ${panel.image}${panel.label ? ` (${panel.label})` : ''}, `
        + `activation ${panel.value} at ${panel.position.join(',')}`;
      projections.append(picture(panel.projection, `${what}: ${unit.method} projection`));
      patches.append(picture(panel.patch, `${what}: image patch`));
    }
    const evolution = el('div', {class: 'row', id: 'evolution'});
    const recorded = unit.evolution.recorded_maps;
    if (unit.evolution.epochs.length) {
      for (const epoch of unit.evolution.epochs) {
        evolution.append(el('figure', {}, picture(epoch.image, `epoch ${epoch.epoch}`, 'evo'),
                            el('figcaption', {}, `epoch ${epoch.epoch}`)));
      }
    } else {
      evolution.append(note(recorded.length
        ? `Map ${unit.map} was not followed during training; ${unit.layer}'s recorded maps: `
        : 'No feature evolution was recorded for this layer.'));
      for (const map of recorded) {
        evolution.append(el('button', {class: 'linkish', onclick: () => this.go(unit.layer, map)}, String(map)));
      }
    }
    this.body.replaceChildren(
      el('h3', {}, `${unit.layer} / map ${unit.map}: top ${unit.panels.length} over the run's test images`),
      el('div', {class: 'row'},
         el('figure', {}, projections, el('figcaption', {}, `${unit.method} projections`)),
         el('figure', {}, patches, el('figcaption', {}, 'image patches (receptive fields)')),
         this.visualization),
      el('h3', {}, 'Evolution during training (Fig. 4)'), evolution);
  }
}
