#!/usr/bin/env ganlua
-- dcgan_tutorial.lua — PyTorch's DCGAN tutorial (pytorch.org/tutorials,
-- beginner/dcgan_faces_tutorial.py, Inkawhich) ported line by line, the way
-- a user porting it would: its positional constructor arguments, its
-- weights_init through apply, nn.BCELoss, make_grid and save_image. Only
-- the syntax differs. The tutorial's constants are its defaults; the test
-- (tests/lua/test_scripts.lua) runs it small on a generated image folder.
local opt = cli.options {
  dataroot = { "data/celeba", "root directory for dataset (an ImageFolder)" },
  batch_size = { 128, "batch size during training" },
  image_size = { 64, "spatial size of training images" },
  nc = { 3, "number of channels in the training images" },
  nz = { 100, "size of z latent vector (i.e. size of generator input)" },
  ngf = { 64, "size of feature maps in generator" },
  ndf = { 64, "size of feature maps in discriminator" },
  num_epochs = { 5, "number of training epochs" },
  lr = { 0.0002, "learning rate for optimizers" },
  beta1 = { 0.5, "beta1 hyperparameter for Adam optimizers" },
}
local run = log.run(opt) -- the run directory (opt.out), as a ganlua script keeps one
local manualSeed = 999
tensor.manual_seed(manualSeed)
local nc, nz, ngf, ndf = opt.nc, opt.nz, opt.ngf, opt.ndf

-- dset.ImageFolder with Resize, CenterCrop, ToTensor, Normalize(0.5, 0.5)
local dataset = data.image_folder { dir = opt.dataroot, size = opt.image_size }

-- custom weights initialization called on netG and netD
local function weights_init(m)
  local classname = m.__name
  if classname:find("Conv") then
    nn.init.normal_(m.weight.data, 0.0, 0.02)
  elseif classname:find("BatchNorm") then
    nn.init.normal_(m.weight.data, 1.0, 0.02)
    nn.init.constant_(m.bias.data, 0)
  end
end

-- Generator Code
local Generator = nn.Module:extend("Generator")
function Generator:init()
  self.main = nn.Sequential {
    -- input is Z, going into a convolution
    nn.ConvTranspose2d(nz, ngf * 8, 4, 1, 0, 0, 1, false), nn.BatchNorm2d(ngf * 8), nn.ReLU(true),
    -- state size. (ngf*8) x 4 x 4
    nn.ConvTranspose2d(ngf * 8, ngf * 4, 4, 2, 1, 0, 1, false), nn.BatchNorm2d(ngf * 4), nn.ReLU(true),
    -- state size. (ngf*4) x 8 x 8
    nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, 0, 1, false), nn.BatchNorm2d(ngf * 2), nn.ReLU(true),
    -- state size. (ngf*2) x 16 x 16
    nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, 0, 1, false), nn.BatchNorm2d(ngf), nn.ReLU(true),
    -- state size. (ngf) x 32 x 32
    nn.ConvTranspose2d(ngf, nc, 4, 2, 1, 0, 1, false), nn.Tanh(),
    -- state size. (nc) x 64 x 64
  }
end
function Generator:forward(input) return self.main(input) end

local netG = Generator()
netG:apply(weights_init)
print(netG)

local Discriminator = nn.Module:extend("Discriminator")
function Discriminator:init()
  self.main = nn.Sequential {
    -- input is (nc) x 64 x 64
    nn.Conv2d(nc, ndf, 4, 2, 1, 1, 1, false), nn.LeakyReLU(0.2, true),
    -- state size. (ndf) x 32 x 32
    nn.Conv2d(ndf, ndf * 2, 4, 2, 1, 1, 1, false), nn.BatchNorm2d(ndf * 2), nn.LeakyReLU(0.2, true),
    -- state size. (ndf*2) x 16 x 16
    nn.Conv2d(ndf * 2, ndf * 4, 4, 2, 1, 1, 1, false), nn.BatchNorm2d(ndf * 4), nn.LeakyReLU(0.2, true),
    -- state size. (ndf*4) x 8 x 8
    nn.Conv2d(ndf * 4, ndf * 8, 4, 2, 1, 1, 1, false), nn.BatchNorm2d(ndf * 8), nn.LeakyReLU(0.2, true),
    -- state size. (ndf*8) x 4 x 4
    nn.Conv2d(ndf * 8, 1, 4, 1, 0, 1, 1, false), nn.Sigmoid(),
  }
end
function Discriminator:forward(input) return self.main(input) end

local netD = Discriminator()
netD:apply(weights_init)
print(netD)

-- Initialize BCELoss function
local criterion = nn.BCELoss()
-- Create batch of latent vectors that we will use to visualize the progression of the generator
local fixed_noise = tensor.randn(64, nz, 1, 1)
-- Establish convention for real and fake labels during training
local real_label, fake_label = 1.0, 0.0
-- Setup Adam optimizers for both G and D
local optimizerD = optim.Adam(netD:parameters(), { lr = opt.lr, betas = { opt.beta1, 0.999 } })
local optimizerG = optim.Adam(netG:parameters(), { lr = opt.lr, betas = { opt.beta1, 0.999 } })

-- Training Loop
local img_list, G_losses, D_losses = {}, {}, {}
local iters = 0
local num_batches = dataset:num_batches(opt.batch_size)
print("Starting Training Loop...")
for epoch = 0, opt.num_epochs - 1 do
  local i = 0
  for real_cpu in dataset:batches(opt.batch_size, { shuffle = true }) do
    ------------------------------------------------------------------
    -- (1) Update D network: maximize log(D(x)) + log(1 - D(G(z)))
    ------------------------------------------------------------------
    -- Train with all-real batch
    netD:zero_grad()
    local b_size = real_cpu:size(1)
    local label = tensor.full({ b_size }, real_label)
    local output = netD(real_cpu):view(-1)
    local errD_real = criterion(output, label)
    errD_real:backward()
    local D_x = output:mean():item()
    -- Train with all-fake batch
    local noise = tensor.randn(b_size, nz, 1, 1)
    local fake = netG(noise)
    label:fill_(fake_label)
    output = netD(fake:detach()):view(-1)
    local errD_fake = criterion(output, label)
    errD_fake:backward()
    local D_G_z1 = output:mean():item()
    local errD = errD_real + errD_fake
    optimizerD:step()
    ------------------------------------------------------------------
    -- (2) Update G network: maximize log(D(G(z)))
    ------------------------------------------------------------------
    netG:zero_grad()
    label:fill_(real_label) -- fake labels are real for generator cost
    output = netD(fake):view(-1)
    local errG = criterion(output, label)
    errG:backward()
    local D_G_z2 = output:mean():item()
    optimizerG:step()

    if i % 50 == 0 then
      print(string.format("[%d/%d][%d/%d]\tLoss_D: %.4f\tLoss_G: %.4f\tD(x): %.4f\tD(G(z)): %.4f / %.4f", epoch,
        opt.num_epochs, i, num_batches, errD:item(), errG:item(), D_x, D_G_z1, D_G_z2))
    end
    G_losses[#G_losses + 1] = errG:item()
    D_losses[#D_losses + 1] = errD:item()
    -- Check how the generator is doing by saving G's output on fixed_noise
    if iters % 500 == 0 or (epoch == opt.num_epochs - 1 and i == num_batches - 1) then
      local f = autograd.no_grad(function() return netG(fixed_noise):detach() end)
      img_list[#img_list + 1] = image.make_grid(f, { padding = 2, normalize = true })
    end
    iters = iters + 1
    i = i + 1
  end
end

plot.lines({ { name = "G", y = G_losses }, { name = "D", y = D_losses } }, opt.out .. "/losses.png",
  { title = "Generator and Discriminator Loss During Training", xlabel = "iterations", ylabel = "Loss" })
image.save(img_list[#img_list], opt.out .. "/fake_images.png")
print(string.format("%d iterations; last Loss_D %.4f, Loss_G %.4f", iters, D_losses[#D_losses], G_losses[#G_losses]))
