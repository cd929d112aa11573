// The Images view: one of the run's test images or an uploaded one; its top
// 5 classes, a class's explanation by any registered method, the maps that
// respond most per layer (click one, then a position in it, to project that
// unit), and the occlusion maps of Fig. 7.
import {View, api, el, note, picture} from './common.js';

const PAGE = 24;

export class ImagesView extends View {
  constructor(root, info, link) {
    super(root, info, link);
    this.offset = 0;
    this.image = null;
    this.unit = null;
    const side = Math.min(info.input_shape[0], info.input_shape[1]);
    this.size = Math.max(1, Math.round(side * 0.22));
    this.stride = Math.max(1, Math.round(side / 14));
    this.occlusionMethod = 'auto';
  }

  start() {
    this.strip = el('div', {class: 'strip', id: 'test-images'});
    const fileInput = el('input', {id: 'upload-input', type: 'file', accept: 'image/*'});
    fileInput.addEventListener('change', () => fileInput.files[0] && this.upload(fileInput.files[0]));
    const drop = el('div', {class: 'drop', id: 'drop'}, 'drop an image here, or ', fileInput);
    drop.addEventListener('dragover', (event) => { event.preventDefault(); drop.classList.add('over'); });
    drop.addEventListener('dragleave', () => drop.classList.remove('over'));
    drop.addEventListener('drop', (event) => {
      event.preventDefault();
      drop.classList.remove('over');
      const file = event.dataTransfer.files[0];
      if (file) this.upload(file);
    });
    const prev = el('button', {onclick: () => this.page(this.offset - PAGE)}, '<');
    const next = el('button', {onclick: () => this.page(this.offset + PAGE)}, '>');
    this.method = this.methodSelect('image-method');
    this.method.addEventListener('change', () => this.unit && this.project(this.unit.layer, this.unit.map, this.unit.at));
    this.message = el('div', {id: 'image-message'});
    this.summary = el('div', {class: 'row', id: 'summary'});
    this.grid = el('div', {id: 'maps'});
    this.projection = el('div', {class: 'row', id: 'image-projection'});
    this.explanation = el('div', {id: 'explanation'});
    this.explainMethod = this.methodSelect('explain-method', this.info.explanation_methods || [],
                                           'explanation method (zfkeras.explain)');
    this.explainMethod.addEventListener('change', () => this.image && this.explain());
    this.explainTarget = el('select', {id: 'explain-target', title: 'the class explained'});
    this.explainTarget.addEventListener('change', () => this.image && this.explain());
    this.occlusion = el('div', {id: 'occlusion'});
    this.root.append(el('div', {class: 'controls'}, 'test images ', prev, next, drop,
                        this.info.methods.length > 1 ? [' method ', this.method] : []),
                     this.strip, this.message, this.summary, this.explanation, this.projection, this.grid,
                     this.occlusion);
    this.page(0);
  }

  async page(offset) {
    const total = this.info.test_images;
    this.offset = Math.min(Math.max(0, offset), Math.max(0, total - 1));
    const answer = await api('test_images', {run: this.info.run, offset: this.offset, count: PAGE});
    this.strip.replaceChildren(...answer.images.map((image) => {
      const thumb = picture(image.thumb, `${image.image}${image.label ? ` (${image.label})` : ''}`, 'thumb');
      thumb.addEventListener('click', () => this.choose(image.image));
      return thumb;
    }));
  }

  async upload(file) {
    this.message.replaceChildren(note(`Uploading ${file.name}...`));
    try {
      const answer = await api('upload', {run: this.info.run}, {method: 'POST', body: file});
      this.message.replaceChildren();
      await this.choose(answer.image);
    } catch (error) {
      this.message.replaceChildren(note(error.message, 'error'));
    }
  }

  async choose(image) {
    this.image = image;
    this.message.replaceChildren(note(`Analysing ${image.startsWith('test:') ? image : 'the upload'}...`));
    try {
      const answer = await api('analyze', {run: this.info.run, image});
      if (image !== this.image) return;
      this.message.replaceChildren();
      this.showSummary(answer);
      this.showTargets(answer.top);
      this.showGrid(answer.layers);
      await this.explain();
      const first = answer.layers[answer.layers.length - 1];
      await this.project(first.layer, first.maps[0].map, null);
      await this.occlude();
    } catch (error) {
      this.message.replaceChildren(note(error.message, 'error'));
    }
  }

  showSummary(answer) {
    const top = el('ol', {id: 'top-classes'},
                   ...answer.top.map((c) => el('li', {}, `${c.label}: ${(100 * c.p).toFixed(1)}%`)));
    this.summary.replaceChildren(el('figure', {}, picture(answer.image, 'the image as the model sees it', 'big'),
                                    el('figcaption', {}, 'input')), el('div', {}, el('b', {}, 'top classes'), top));
  }

  showTargets(top) {
    const classes = top.map((c) => el('option', {value: String(c.class)}, `${c.label} (${(100 * c.p).toFixed(1)}%)`));
    this.explainTarget.replaceChildren(el('option', {value: ''}, 'predicted class'), ...classes);
  }

  async explain() {
    const image = this.image;
    const params = {run: this.info.run, image, method: this.explainMethod.value};
    if (this.explainTarget.value !== '') params.target = this.explainTarget.value;
    const shown = el('div', {class: 'row', id: 'explanation-map'}, note(`Explaining by ${params.method}...`));
    this.explanation.replaceChildren(el('h3', {}, 'Explanation of a class'),
                                     el('div', {class: 'controls'}, 'method ', this.explainMethod,
                                        ' class ', this.explainTarget),
                                     shown);
    try {
      const answer = await api('explain', params);
      if (image !== this.image) return;
      const scale = answer.signed ? 'blue negative, white 0, red positive' : 'blue 0 to red at its maximum';
      shown.replaceChildren(
        el('figure', {}, picture(answer.map, `${answer.method} map of ${answer.label}`, 'big'),
           el('figcaption', {}, `${answer.method} map of class ${answer.label} (${scale}; `
              + `here ${answer.range.join(' to ')})`)),
        note(answer.summary));
    } catch (error) {
      shown.replaceChildren(note(error.message, 'error'));
    }
  }

  showGrid(layers) {
    this.grid.replaceChildren(el('h3', {}, 'Maps that respond most, per layer (click one to project it)'));
    for (const layer of layers) {
      const row = el('div', {class: 'maprow'}, el('span', {class: 'layername'}, layer.layer));
      for (const map of layer.maps) {
        const thumb = picture(map.thumb, `${layer.layer} / ${map.map}: peak ${map.value}`, 'thumb map');
        thumb.addEventListener('click', () => this.project(layer.layer, map.map, null));
        row.append(el('figure', {}, thumb, el('figcaption', {}, String(map.map))));
      }
      this.grid.append(row);
    }
  }

  async project(layer, map, at) {
    this.unit = {layer, map, at};
    const params = {run: this.info.run, image: this.image, layer, map, method: this.method.value || 'deconvnet'};
    if (at) Object.assign(params, {y: at[0], x: at[1]});
    try {
      const answer = await api('project', params);
      const activation = picture(answer.activation, 'click a position to project that unit', 'big clickable');
      activation.addEventListener('click', (event) => {
        const y = Math.floor((event.offsetY / activation.clientHeight) * answer.map_shape[0]);
        const x = Math.floor((event.offsetX / activation.clientWidth) * answer.map_shape[1]);
        this.project(layer, map, [Math.min(y, answer.map_shape[0] - 1), Math.min(x, answer.map_shape[1] - 1)]);
      });
      this.projection.replaceChildren(
        el('figure', {}, activation, el('figcaption', {}, `${layer} / ${map} activation (click a position)`)),
        el('figure', {}, picture(answer.projection, `${answer.method} projection`, 'big'),
           el('figcaption', {}, `${answer.method} projection of ${layer} / ${map} at (${answer.position.join(', ')}),`
              + ` activation ${answer.value}`)));
    } catch (error) {
      this.projection.replaceChildren(note(error.message, 'error'));
    }
  }

  async occlude() {
    const size = el('input', {id: 'occ-size', type: 'number', min: 1, value: this.size, title: 'square size'});
    const stride = el('input', {id: 'occ-stride', type: 'number', min: 1, value: this.stride, title: 'stride'});
    const method = el('select', {id: 'occ-method', title: 'how the maps are computed (docs/OCCLUSION.md)'},
      ...(this.info.occlusion_methods || ['auto']).map((name) =>
        el('option', name === this.occlusionMethod ? {value: name, selected: 'selected'} : {value: name}, name)));
    const maps = el('div', {class: 'row', id: 'occlusion-maps'}, note('Occluding...'));
    const run = el('button', {id: 'occlude', onclick: () => {
      this.size = Number(size.value);
      this.stride = Number(stride.value);
      this.occlusionMethod = method.value;
      this.occlude();
    }}, 'occlude');
    this.occlusion.replaceChildren(el('h3', {}, 'Occlusion (Fig. 7)'),
                                   el('div', {class: 'controls'}, 'grey square ', size, ' px, stride ', stride, ' px ', method, ' ', run),
                                   maps);
    try {
      const answer = await api('occlusion', {run: this.info.run, image: this.image, size: this.size, stride: this.stride,
                                             method: this.occlusionMethod});
      const legend = el('ul', {class: 'legend'}, ...answer.legend.map((item) =>
        el('li', {}, el('span', {class: 'swatch', style: `background:${item.color}`}), item.label)));
      maps.replaceChildren(
        el('figure', {}, picture(answer.probability, 'p(class)', 'big'),
           el('figcaption', {}, `p(${answer.true_label}) as the square moves (blue 0, red 1; `
              + `here ${answer.probability_range.join(' to ')})`)),
        el('figure', {}, picture(answer.label, 'most probable label', 'big'),
           el('figcaption', {}, 'most probable label'), legend),
        el('figure', {}, picture(answer.activity, `${answer.layer} map ${answer.channel}`, 'big'),
           el('figcaption', {}, `activity of ${answer.layer}'s strongest map (${answer.channel})`)),
        note(`computed by ${answer.method} occlusion: ${answer.computed} of ${answer.grid[0] * answer.grid[1]} `
             + 'positions through the network' + (answer.method === 'approximate' ? ', the rest interpolated' : '')));
    } catch (error) {
      maps.replaceChildren(note(error.message, 'error'));
    }
  }
}
